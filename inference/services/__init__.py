"""Every change to inference data goes through this package.

The functions check the domain rules and raise annotator.errors.DomainError
with a message a person can act on; views, the API, tasks and commands all
call them. One module per concern:

  options       a lead's training options -> a validated TrainConfig dict
  runs          starting and cancelling training runs, experiments and
                prediction runs (per-project limits, enqueueing)
  prelabelling  the pre-labeller, its policy and the hooks that keep
                suggestions fresh (on_items_added, on_gold_changed)
  execution     running a job in a worker or a command: claim, progress,
                heartbeat, cancel, the ending, abandoned runs
  files         where model files live and how answers speak of them
  uncertainty   Item.uncertainty from the current suggestions (the queue's
                "most uncertain first" order reads it)

A run is a persisted job: `start_*` (runs) creates it queued and enqueues a
Celery task with delay_on_commit; the task calls `execute_*` (execution),
which claims it (queued -> running), does the work with progress written to
the row, and ends it succeeded | failed | cancelled with an error message.
Pages poll the row. Web processes never import torch: the modeling
package's torch parts are imported inside `execute_*` and the embedding map
only. Reads that build page data are in inference/reports.py.
"""
