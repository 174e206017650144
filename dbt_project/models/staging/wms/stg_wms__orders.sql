with

source as (
    select * from {{ source('wms', 'wms_orders') }}
),

clients as (
    {{- wms_client_identity() }}
),

renamed as (
    select
        ---------- ids
        c.client_id,
        o.wms_client_id,
        o.order_id,
        {{ source_ref('wms_order', 'o.wms_client_id', 'o.order_id') }} as ref,
        ---------- attributes
        o.kind,
        o.marketplace,
        o.status,
        ---------- numerics
        o.units,
        ---------- timestamps
        o.created_at,
        date_trunc('week', o.created_at) as week,
        ---------- quality
        o.record_status,
        o.raw,
        o.pulled_at as loaded_at
    from source as o
    left join clients as c using (wms_client_id)
)

select * from renamed
