"""A local stand-in for the Lambda API, for testing `make bench-aws` without an account
(scripts/lambda-standin.py starts it).

Modules: platform_log (START/END/REPORT lines and platform records as Lambda writes them),
runtime_api (the Runtime and Extensions APIs one execution environment polls),
environment (one execution environment: a real bootstrap process), function (a function:
its configuration, update states and environments), api (the Lambda and CloudWatch Logs
APIs on 127.0.0.1), proxy (a TCP forwarder that counts connections and publishes them as
RDS Proxy publishes its metrics).
"""
