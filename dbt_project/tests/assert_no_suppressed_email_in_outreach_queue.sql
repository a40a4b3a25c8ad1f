-- A suppressed email is never queued for outreach, whatever happened upstream (checked on real data).
select
    queue.queue_id,
    queue.email
from {{ ref('outreach_queue') }} as queue
inner join {{ ref('stg_consent__suppressions') }} as suppressions
    on queue.email = suppressions.email
