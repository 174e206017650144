with

source as (
    select * from {{ source('meetings', 'meeting_summaries') }}
),

recordings as (
    select * from {{ source('meetings', 'meeting_recordings') }}
),

renamed as (
    select
        ---------- ids
        s.recording_id,
        s.client_id,
        {{ source_ref('meeting', 's.recording_id') }} as ref,
        ---------- text
        s.summary_text,
        s.summary,
        r.room,
        r.media_path,
        ---------- flags
        s.extractive,
        s.generated_by,
        ---------- numerics
        s.prompt_tokens,
        s.completion_tokens,
        ---------- timestamps
        s.started_at,
        s.meeting_date,
        s.summarized_at,
        s.summarized_at as loaded_at
    from source as s
    left join recordings as r using (recording_id)
)

select * from renamed
