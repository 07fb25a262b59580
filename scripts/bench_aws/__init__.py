"""`make bench-aws`: the article's experiment on a deployed stack (scripts/bench-aws.py).

Modules: lambda_logs (Lambda's REPORT and the functions' own invocation report), prices
(cost), stack (the stack's outputs and parameters), plan (what a run does and costs),
changes (configuration changed and put back), invoke (timed invocations), burst and
sweep (the two experiments), connections (log streams, the proxy's metrics), run (the
whole run, its results file and report). Tests: test_*.py, run by `make test`.
"""
