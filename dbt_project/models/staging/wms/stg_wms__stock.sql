with

source as (
    select * from {{ source('wms', 'wms_stock') }}
),

clients as (
    {{- wms_client_identity() }}
),

renamed as (
    select
        ---------- ids
        c.client_id,
        s.wms_client_id,
        s.sku,
        ---------- attributes
        s.name,
        ---------- numerics
        s.on_hand,
        s.reserved,
        ---------- timestamps
        s.snapshot_date,
        date_trunc('week', s.snapshot_date) as week,
        s.as_of,
        ---------- quality
        s.record_status,
        s.pulled_at as loaded_at
    from source as s
    left join clients as c using (wms_client_id)
)

select * from renamed
