"""The built-in lab scenarios, one YAML file each, in the format instructors write
(``docs/scenarios.md``; read by :func:`lab.scenarios.fileformat.load_scenario_file`)."""
