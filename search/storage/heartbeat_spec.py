"""How often a running trial proves it is alive, and how long a silent one is given: the defaults
that the spec's ``workers`` section and the storages share, without the storages (reading a spec
imports neither SQLAlchemy nor the storage code; ``search/storage/storage.py`` uses them)."""

HEARTBEAT_SECONDS = 10  # a running trial's heartbeat interval
GRACE_SECONDS = 60  # a trial silent this long is failed, and its config retried
