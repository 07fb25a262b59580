"""The report parsers on lines copied from AWS's documentation, and on lines that are not
reports. Run by `make test` (tests/tests/bench_aws_units.rs)."""

import base64
import unittest

from bench_aws.lambda_logs import (
    FunctionReport,
    connections_per_environment,
    parse_function_report,
    parse_platform_record,
    parse_platform_report,
    parse_report_line,
    parse_tail,
)

# https://docs.aws.amazon.com/lambda/latest/dg/golang-logging.html, "Example log format"
# (source: github.com/awsdocs/aws-lambda-developer-guide, doc_source/golang-logging.md):
# a cold start, tab-separated, a trailing tab, the X-Ray line after it.
GO_COLD = (
    "START RequestId: dbda340c-xmpl-4031-8810-11bb609b4c71 Version: $LATEST\n"
    "2020/03/27 03:40:05 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128\n"
    "END RequestId: dbda340c-xmpl-4031-8810-11bb609b4c71\n"
    "REPORT RequestId: dbda340c-xmpl-4031-8810-11bb609b4c71\tDuration: 38.66 ms\t"
    "Billed Duration: 39 ms\tMemory Size: 128 MB\tMax Memory Used: 54 MB\t"
    "Init Duration: 203.69 ms\t\n"
    "XRAY TraceId: 1-5e7d7595-212fxmpl9ee07c4884191322\tSegmentId: 42ffxmpl0645f474\t"
    "Sampled: true\n"
)
# The same page, the decoded `LogResult` of `aws lambda invoke --log-type Tail`: the page
# renders the tabs as runs of spaces.
GO_TAIL_SPACES = (
    "REPORT RequestId: 57f231fb-1730-4395-85cb-4f71bd2b87b8  Duration: 79.67 ms      "
    "Billed Duration: 80 ms         Memory Size: 128 MB     Max Memory Used: 73 MB"
)
# The same page, a message of `aws logs get-log-events`: a space before a tab.
GO_LOG_EVENT = (
    "REPORT RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2bf\tDuration: 26.73 ms\t"
    "Billed Duration: 27 ms \tMemory Size: 128 MB\tMax Memory Used: 75 MB\t\n"
)
# https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html, the example
# `platform.report` event (its trailing comma after requestId, not JSON, left out). With
# LogFormat JSON, CloudWatch and the Invoke tail carry these records.
TELEMETRY_REPORT = """{
"time": "2022-10-12T00:01:15.000Z",
"type": "platform.report",
"record": {
"metrics": {
"billedDurationMs": 694,
"durationMs": 693.92,
"initDurationMs": 397.68,
"maxMemoryUsedMB": 84,
"memorySizeMB": 128
},
"requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"
}
}"""
# https://docs.aws.amazon.com/lambda/latest/dg/runtimes-logs-api.html, "Example log
# messages" (source: doc_source/runtimes-logs-api.md): a request id without dashes.
LOGS_API_REPORT = """{
    "time": "2020-08-20T12:31:32.123Z",
    "type": "platform.report",
    "record": {
        "requestId": "6f7f0961f83442118a7af6fe80b88d56",
        "metrics": {
            "durationMs": 101.51,
            "billedDurationMs": 300,
            "memorySizeMB": 512,
            "maxMemoryUsedMB": 33,
            "initDurationMs": 116.67
        }
    }
}"""


def one_line(record: str) -> str:
    """A record as the logs carry it: one JSON object per line."""
    return " ".join(part.strip() for part in record.splitlines())


class TextReportLine(unittest.TestCase):
    def test_cold_start_from_the_go_page(self):
        tail = parse_tail(GO_COLD)
        report = tail.platform
        self.assertIsNotNone(report)
        self.assertEqual(report.request_id, "dbda340c-xmpl-4031-8810-11bb609b4c71")
        self.assertEqual(report.duration_ms, 38.66)
        self.assertEqual(report.billed_duration_ms, 39)
        self.assertEqual(report.memory_size_mb, 128)
        self.assertEqual(report.max_memory_used_mb, 54)
        self.assertEqual(report.init_duration_ms, 203.69)
        self.assertTrue(report.cold)
        self.assertIsNone(report.status)

    def test_warm_report_rendered_with_spaces(self):
        report = parse_report_line(GO_TAIL_SPACES)
        self.assertEqual(report.request_id, "57f231fb-1730-4395-85cb-4f71bd2b87b8")
        self.assertEqual(report.duration_ms, 79.67)
        self.assertEqual(report.billed_duration_ms, 80)
        self.assertEqual(report.memory_size_mb, 128)
        self.assertEqual(report.max_memory_used_mb, 73)
        self.assertIsNone(report.init_duration_ms)
        self.assertFalse(report.cold)

    def test_space_before_a_tab(self):
        report = parse_report_line(GO_LOG_EVENT)
        self.assertEqual(report.duration_ms, 26.73)
        self.assertEqual(report.billed_duration_ms, 27)
        self.assertEqual(report.max_memory_used_mb, 75)

    def test_a_stated_status_is_kept(self):
        line = GO_LOG_EVENT.rstrip("\t\n") + "\tStatus: timeout\n"
        self.assertEqual(parse_report_line(line).status, "timeout")

    def test_not_reports(self):
        for line in [
            "",
            "START RequestId: 57f231fb Version: $LATEST",
            "END RequestId: 57f231fb",
            "REPORT RequestId: ",
            "REPORT RequestId: x\tBilled Duration: 3 ms",  # no Duration
            "REPORT RequestId: x\tDuration: fast ms",
            "REPORT RequestId: x\tDuration: 1e999 ms",
            "2020/03/27 03:40:05 REPORT RequestId: x\tDuration: 1 ms",
            "quoted=\"REPORT RequestId: x\tDuration: 1 ms\"",
        ]:
            with self.subTest(line=line):
                self.assertIsNone(parse_report_line(line))


class JsonReportRecord(unittest.TestCase):
    def test_telemetry_schema_example(self):
        report = parse_platform_report(one_line(TELEMETRY_REPORT))
        self.assertEqual(report.request_id, "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa")
        self.assertEqual(report.duration_ms, 693.92)
        self.assertEqual(report.billed_duration_ms, 694)
        self.assertEqual(report.memory_size_mb, 128)
        self.assertEqual(report.max_memory_used_mb, 84)
        self.assertEqual(report.init_duration_ms, 397.68)

    def test_logs_api_example(self):
        report = parse_platform_report(one_line(LOGS_API_REPORT))
        self.assertEqual(report.request_id, "6f7f0961f83442118a7af6fe80b88d56")
        self.assertEqual(report.billed_duration_ms, 300)
        self.assertEqual(report.memory_size_mb, 512)
        self.assertTrue(report.cold)

    def test_managed_instances_report_has_duration_only(self):
        # The telemetry schema page: on Managed Instances "Metrics: Only includes
        # durationMs"; spans responseLatency and responseDuration.
        record = {
            "time": "2025-12-01T00:00:00.000Z",
            "type": "platform.report",
            "record": {
                "requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa",
                "metrics": {"durationMs": 12.5},
                "spans": [{"name": "responseLatency", "start": "2025-12-01T00:00:00.000Z",
                           "durationMs": 0.5}],
                "status": "success",
            },
        }
        report = parse_platform_record(record)
        self.assertEqual(report.duration_ms, 12.5)
        self.assertIsNone(report.billed_duration_ms)
        self.assertIsNone(report.memory_size_mb)
        self.assertIsNone(report.max_memory_used_mb)
        self.assertIsNone(report.init_duration_ms)
        self.assertIsNone(report.status)

    def test_failure_status_kept(self):
        record = {"type": "platform.report",
                  "record": {"requestId": "r", "metrics": {"durationMs": 1}, "status": "timeout"}}
        self.assertEqual(parse_platform_record(record).status, "timeout")

    def test_not_reports(self):
        for record in [
            None, [], "platform.report", {"type": "platform.start", "record": {"requestId": "r"}},
            {"type": "platform.report"},
            {"type": "platform.report", "record": {"requestId": "r"}},
            {"type": "platform.report", "record": {"requestId": 7, "metrics": {"durationMs": 1}}},
            {"type": "platform.report", "record": {"requestId": "r", "metrics": {"durationMs": "1"}}},
            {"type": "platform.report", "record": {"requestId": "r", "metrics": {"durationMs": True}}},
            {"type": "platform.report", "record": {"requestId": "r", "metrics": []}},
        ]:
            with self.subTest(record=record):
                self.assertIsNone(parse_platform_record(record))

    def test_wrongly_typed_optional_metrics_are_unknown(self):
        record = {"type": "platform.report",
                  "record": {"requestId": "r", "metrics": {"durationMs": 2.0,
                                                          "memorySizeMB": "128",
                                                          "initDurationMs": None}}}
        report = parse_platform_record(record)
        self.assertEqual(report.duration_ms, 2.0)
        self.assertIsNone(report.memory_size_mb)
        self.assertFalse(report.cold)


# The functions' own line, as bins/src/lib.rs `report` logs it in JSON (tracing's JSON
# formatter) and in text.
OWN_JSON = ('{"level":"INFO","fields":{"message":"invocation report","duration_us":123,'
            '"cold":true,"ok":true,"started_at_us":1764582000000000,"pid":8,'
            '"connections_opened":1},"span":{"requestId":"r","name":"Lambda runtime invoke"},'
            '"spans":[{"requestId":"r","name":"Lambda runtime invoke"}]}')
OWN_TEXT = (' INFO Lambda runtime invoke{requestId="r" xrayTraceId="t"}: invocation report '
            'duration_us=456 cold=false ok=false started_at_us=1764582000000001 pid=9')


class FunctionReportLine(unittest.TestCase):
    def test_json(self):
        self.assertEqual(parse_function_report(OWN_JSON), FunctionReport(
            duration_us=123, cold=True, ok=True, pid=8, started_at_us=1764582000000000,
            connections_opened=1))

    def test_text_without_connections(self):
        self.assertEqual(parse_function_report(OWN_TEXT), FunctionReport(
            duration_us=456, cold=False, ok=False, pid=9, started_at_us=1764582000000001,
            connections_opened=None))

    def test_not_reports(self):
        for line in [
            "", "{}", '{"fields":{"message":"runtime chosen"}}', "INFO runtime chosen",
            '{"fields":{"message":"invocation report","duration_us":-1,"cold":true,"ok":true}}',
            '{"fields":{"message":"invocation report","duration_us":1,"cold":"yes","ok":true}}',
            '{"fields":"invocation report"}',
            "INFO invocation report duration_us=abc cold=true ok=true",
            '{"fields":{"message":"invocation report"',
        ]:
            with self.subTest(line=line):
                self.assertIsNone(parse_function_report(line))

    def test_a_negative_or_odd_count_is_not_reported(self):
        line = OWN_JSON.replace('"connections_opened":1', '"connections_opened":-3')
        self.assertIsNone(parse_function_report(line).connections_opened)


class Tails(unittest.TestCase):
    def test_json_tail_with_both_reports(self):
        text = "\n".join([
            '{"time":"2026-12-01T00:00:00.000Z","type":"platform.start",'
            '"record":{"requestId":"r","version":"$LATEST"}}',
            OWN_JSON,
            one_line(TELEMETRY_REPORT).replace("6d68ca91-49c9-448d-89b8-7ca3e6dc66aa", "r"),
        ])
        tail = parse_tail(text, request_id="r")
        self.assertEqual(tail.platform.duration_ms, 693.92)
        self.assertEqual(tail.function.connections_opened, 1)

    def test_another_requests_report_is_not_taken(self):
        self.assertIsNone(parse_tail(GO_COLD, request_id="other").platform)

    def test_cut_first_line_and_undecodable_bytes(self):
        # The tail is the last 4 KB: it can start inside a line, even inside a character.
        raw = ("x" * 5000 + "\n" + GO_LOG_EVENT).encode()
        cut = base64.b64decode(base64.b64encode(b"\xe2\x82" + raw[-4096:]))
        tail = parse_tail(cut.decode("utf-8", errors="replace"))
        self.assertEqual(tail.platform.duration_ms, 26.73)
        self.assertIsNone(tail.function)


class Connections(unittest.TestCase):
    def report(self, opened):
        return FunctionReport(duration_us=1, cold=False, ok=True, connections_opened=opened)

    def test_last_value_per_environment_summed_by_the_caller(self):
        reports = [("env-a", self.report(1)), ("env-b", self.report(1)),
                   ("env-a", self.report(2)), ("env-a", self.report(3)),
                   ("env-b", self.report(1))]
        self.assertEqual(connections_per_environment(reports), {"env-a": 3, "env-b": 1})

    def test_out_of_order_reports_keep_the_largest(self):
        reports = [("env-a", self.report(5)), ("env-a", self.report(4))]
        self.assertEqual(connections_per_environment(reports), {"env-a": 5})

    def test_field_absent_everywhere_is_not_reported(self):
        self.assertIsNone(connections_per_environment([("env-a", self.report(None))]))


if __name__ == "__main__":
    unittest.main()
