{#
  Reference strings: what a timeline event, an interaction signal, a profile fact or an alert points at. SQL
  builds them only through source_ref(kind, part, …): the parts are SQL expressions, joined by ':' after
  '<kind>:'; `at=` appends '@<second>'. warehouse/refs.py (make_ref, parse_ref) mirrors
  this list — change both together.

  Built in the models:
    meeting:<recording_id>                              a meeting (stg_meetings__summaries, __recordings)
    telegram:<chat_id>:<message_id>                     a Telegram message (stg_telegram__messages)
    telegram_day:<client_id>:<day YYYY-MM-DD>           a client's chat on a local day (stg_telegram__daily_summaries)
    bitrix:<activity_id>                                a Bitrix24 call, e-mail or other activity (stg_bitrix24__activities)
    call:<activity_id>                                  the summary of a call (summary_key in bitrix_activity_summaries)
    note:<note_id>                                      a curator's note (stg_notes__notes)
    wms_week:<client_id>:<week Monday YYYY-MM-DD>       a client's warehouse week (int_client_events)
    wms_order:<wms_client_id>:<order_id>                a WMS order or withdrawal (stg_wms__orders)
    wms_receipt:<wms_client_id>:<receipt_id>            a supply to the warehouse (stg_wms__receipts)
    wms_reservation:<wms_client_id>:<reservation_id>    a reservation (stg_wms__reservations)
  Built in Python with the same syntax:
    meeting:<recording_id>@<second>                     a moment of a meeting's recording (RAG passages)
    bitrix:<activity_id>@<second>                       a moment of a call's recording (RAG passages)
    telegram:<chat_id>:<message_id>-<message_id>        a run of messages (RAG passages)
    bitrix_lead:<lead_id>                               a Bitrix24 lead (the profile's «since»)
    email:<client_id>:<thread>                          an e-mail thread's summary (summary_key)
    profile:<client_id>:<kind>[:<origin>:<fact_key>], wms_month:<client_id>:<YYYY-MM>, tone:<client_id>:<YYYY-MM>,
    wms_period:<client_id>:<from>:<to>, alert:<client_id>:<alert_type>, alerts:<client_id>   (RAG passages, tools)
    tool:<name>                                         a warehouse tool that could not answer (the chat's tools)
#}
{% macro source_ref(kind) -%}
    '{{ kind }}:' || {{ varargs | join(" || ':' || ") }}
    {%- if kwargs.get('at') is not none %} || '@' || {{ kwargs['at'] }}{% endif %}
{%- endmacro %}
