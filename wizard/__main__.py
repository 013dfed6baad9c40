"""``python -m wizard`` is the ``lync-restore`` command."""

from wizard.cli import main

raise SystemExit(main())
