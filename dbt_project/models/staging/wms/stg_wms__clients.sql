select
    wms_client_id,
    client_id,
    name,
    inn,
    updated_at,
    updated_at as loaded_at
from {{ source('wms', 'wms_clients') }}
