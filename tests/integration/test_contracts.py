"""Agents' contracts against a real daemon: a request whose input.data
violates the agent's schema_in is refused with 422 input_invalid and the
JSON Pointers of the violations, and nothing is created; a job whose
output document violates schema_out ends FAILED output_invalid with the
pointers, on its first attempt, not retried; an agent whose schema is not
a valid JSON Schema is a config error naming the file, line and agent."""
import json
import os
import subprocess
import unittest

from daemon import EXECD, Daemon


def conf_string(doc):
    """A JSON document as a libconfig string."""
    return json.dumps(json.dumps(doc))


SCHEMA_IN = {
    "type": "object",
    "required": ["n"],
    "properties": {
        "n": {"type": "integer", "minimum": 1},
        "day": {"type": "string", "format": "date"},
    },
}
SCHEMA_OUT = {
    "type": "object",
    "required": ["sum"],
    "properties": {"sum": {"type": "number"}},
    "unevaluatedProperties": False,
}
AGENTS = """agents = ( { name = "adder"; backend = "local"; format_assertion = true;
                schema_in = %s;
                schema_out = %s; } );
""" % (conf_string(SCHEMA_IN), conf_string(SCHEMA_OUT))


def writes_result(doc):
    return ["/bin/sh", "-c", "printf '%s' '" + json.dumps(doc) + "' > \"$WORKSPACE_OUTPUT/result.json\""]


class ContractTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(extra_config=AGENTS).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def request(self, data, output=None, attempts=1):
        return {"agent": "adder", "input": {"data": data},
                "container": {"command": writes_result(output if output is not None else {"sum": 3})},
                "retry": {"max_attempts": attempts, "backoff_ms": 10}}

    def units(self, doc):
        return [(u["instanceLocation"], u["keywordLocation"]) for u in doc["error"]["details"]["errors"]]

    def test_input_violating_schema_in_is_422_with_pointers(self):
        status, doc = self.d.submit(self.request({"n": "two"}))
        print("422 document:", json.dumps(doc))
        self.assertEqual(status, 422, doc)
        self.assertEqual(doc["error"]["code"], "input_invalid")
        self.assertEqual(doc["error"]["field"], "input.data")
        self.assertIn(("/n", "/properties/n/type"), self.units(doc))
        self.assertIn("/properties/n/type", doc["error"]["message"])
        status, doc = self.d.submit(self.request({"n": 0, "day": "2024-02-30"}))
        self.assertEqual(status, 422, doc)
        self.assertEqual(sorted(self.units(doc)),
                         [("/day", "/properties/day/format"), ("/n", "/properties/n/minimum")])
        status, doc = self.d.submit(self.request(None))
        self.assertEqual(status, 422, doc)
        self.assertIn(("", "/type"), self.units(doc))
        status, listing = self.d.request("GET", "/v1/executions?agent=adder")
        self.assertEqual(status, 200, listing)
        self.assertEqual(listing.get("executions", listing.get("items")), [], listing)

    def test_output_violating_schema_out_fails_output_invalid_not_retried(self):
        status, doc = self.d.submit(self.request({"n": 2}, output={"sum": "three", "extra": 1}, attempts=3),
                                    wait=30)
        print("output_invalid document:", json.dumps(doc.get("result", {}).get("error")))
        self.assertIn(status, (200, 201), doc)
        self.assertEqual(doc["state"], "FAILED", doc)
        self.assertEqual(doc["attempts"], 1, doc)
        err = doc["result"]["error"]
        self.assertEqual(err["code"], "output_invalid", doc)
        pairs = [(u["instanceLocation"], u["keywordLocation"]) for u in err["details"]["errors"]]
        self.assertIn(("/sum", "/properties/sum/type"), pairs)
        self.assertIn(("/extra", "/unevaluatedProperties"), pairs)

    def test_valid_input_and_output_succeed(self):
        status, doc = self.d.submit(self.request({"n": 2, "day": "2024-02-29"}, output={"sum": 3}), wait=30)
        self.assertIn(status, (200, 201), doc)
        self.assertEqual(doc["state"], "SUCCEEDED", doc)
        self.assertEqual(doc["result"]["output"], {"sum": 3})

    def test_invalid_schema_is_a_config_error(self):
        bad = Daemon(extra_config='agents = ( { name = "broken"; backend = "local";\n'
                     '  schema_in = %s; } );\n' % conf_string({"properties": {"n": {"type": "int"}}}))
        try:
            conf = bad.write_config(0)
            p = subprocess.run([EXECD, "--check-config", "-c", conf], capture_output=True, text=True,
                               env=dict(os.environ), timeout=60)
            print("config error:", p.stderr.strip())
            self.assertNotEqual(p.returncode, 0)
            with open(conf) as f:
                lines = f.read().split("\n")
            line = 1 + next(i for i, l in enumerate(lines) if "schema_in" in l)
            self.assertIn("%s:%d: agents[0].schema_in" % (conf, line), p.stderr)
            self.assertIn("agent 'broken'", p.stderr)
            self.assertIn("/properties/n/type", p.stderr)
        finally:
            bad.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
