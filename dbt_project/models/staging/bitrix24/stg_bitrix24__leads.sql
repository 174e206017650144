with

leads as (
    select * from {{ source('bitrix24', 'bitrix_leads') }}
),

renamed as (
    select
        cast(lead_id as varchar) as client_id,
        title,
        name as contact_name,
        status_id,
        source_id,
        assigned_by_id as curator_id,
        assigned_by_name as curator_name,
        date_create as created_at,
        date_modify as modified_at,
        contact_id,
        company_id,
        phones,
        emails,
        messengers,
        uf,
        raw,
        pulled_at as loaded_at
    from leads
)

select * from renamed
