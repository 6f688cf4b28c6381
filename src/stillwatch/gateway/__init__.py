"""gateway: an OpenAI-compatible server in front of a model that watermarks every answer with its
account's key, records every exchange in the ledger, enforces terms of service and limits, and runs
guard's live scorer with an allow / throttle / block policy. Only the CLI imports this package.

Modules: :mod:`.app` (HTTP routes), :mod:`.service` (the request pipeline), :mod:`.engine` (dynamic
batching), :mod:`.policy` (limits and live policy), :mod:`.accounts` / :mod:`.admin` (store and
administration), :mod:`.recorder` (group-committed ledger appends), :mod:`.server` (building and serving).
"""

from __future__ import annotations
