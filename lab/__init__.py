"""The lab: a simulated Lync Server 2013 deployment, and everything that runs against it.

A client of the product, never a part of it: ``wizard`` and ``screens`` never import this
package (import-linter contract and ``tests/unit/test_import_hygiene.py``); the command line
loads ``drill``, ``lab serve``, ``scenarios`` and ``bench`` from here by name. The lab uses only
public names of the core (the plan model, the runners for its self-checks).

- the deployment: ``model.py`` (state), ``sqlstate.py``/``sqlengine.py`` (SQL Server),
  ``powershell/`` (interpreter), ``cmdlets/`` (Lync cmdlets, domain doc §8), ``wsman/`` (WinRM
  server), ``tds/`` (TDS server), ``scenarios.py``, ``runtime.py``/``serve.py``;
- drills: ``entry.py`` (the ``drill`` command, light before the first frame), ``drill.py``
  (:class:`~lab.drill.LabDrill`, headless play), ``hands.py`` (the trainee's hands),
  ``keeper.py`` (a drill's lab in a process that outlives the terminal) and ``attach.py`` (the
  wizard's side: which kept lab an incident plays on);
- ``bench/``: ``lync-restore bench``, every figure taken against lab servers.
"""
