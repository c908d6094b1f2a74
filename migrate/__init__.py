"""mailmigrate: move local POP-era mail stores into an IMAP account, safely.

The pipeline, one module per stage:

    sources/  -> plan.py -> backup.py -> upload/ (+ state.py) -> report.py / verify.py

`target/` is the only place that talks IMAP.
"""

__version__ = "0.1.0"
