"""Imported only by the fork server :class:`~man_rl.distributed.CollectorPool` starts (preload).

A SIGTERM sent to the whole process group (a process manager stopping the job) must not kill
the fork server: the pool's workers are its children, and the pool reads the server's death
as theirs, losing the frames they gathered. Each worker installs its own SIGTERM handler.
"""

import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
