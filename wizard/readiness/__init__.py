"""The readiness audit (``lync-restore check PLAN``, #18 item 1): is the organisation ready to
restore today? See :mod:`wizard.readiness.command` for what is asked and in which order,
:mod:`wizard.readiness.report` for statuses and the three output formats."""
