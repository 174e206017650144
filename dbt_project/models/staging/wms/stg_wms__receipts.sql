with

source as (
    select * from {{ source('wms', 'wms_receipts') }}
),

clients as (
    {{- wms_client_identity() }}
),

renamed as (
    select
        c.client_id,
        r.wms_client_id,
        r.receipt_id,
        {{ source_ref('wms_receipt', 'r.wms_client_id', 'r.receipt_id') }} as ref,
        r.units,
        r.created_at,
        date_trunc('week', r.created_at) as week,
        r.record_status,
        r.raw,
        r.pulled_at as loaded_at
    from source as r
    left join clients as c using (wms_client_id)
)

select * from renamed
