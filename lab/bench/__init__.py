"""``lync-restore bench``: one table of figures (:mod:`lab.bench.table`), each module contributing
``bench_rows(quick)``; all of them run against lab servers, so they live with the lab."""
