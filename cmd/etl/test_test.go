package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEtlTestReportsEachFailureWithItsLine(t *testing.T) {
	code, out, _ := runCLI(t, "test", "testdata/etltest/people.hcl")
	assert.Equal(t, exitFailed, code)
	want := `FAIL testdata/etltest/people.test.hcl:6: wrong value
    column email: want "C@D.CO", got "c@d.co"
FAIL testdata/etltest/people.test.hcl:11: wants a reject but maps
    want a reject by "validate has_email", got a row: {"email":"e@f.co","id":3,"tags":null}
FAIL testdata/etltest/people.test.hcl:18: wants a row but is rejected
    want a row, got a reject by "validate has_email": check has_email failed
FAIL testdata/etltest/people.test.hcl:23: wrong reason
    reject reason: want "nope", got "int: \"x\" is not an integer"
FAIL testdata/etltest/people.test.hcl:31: unknown column
    column mail: the pipeline maps no such column
1 passed, 5 failed
`
	assert.Equal(t, want, out)
}

func TestEtlTestPassesTheShippedPipelines(t *testing.T) {
	code, out, errOut := runCLI(t, "test", "../../pipelines")
	assert.Equal(t, exitOK, code, "%s\n%s", out, errOut)
	assert.Contains(t, out, " 0 failed")
	assert.NotContains(t, out, "\n0 passed")
}

// TestEtlTestChecksDeliveries: a delivery test passes when verify and the
// body parser answer its status and record count, with the file's pinned
// env, and each mismatch is reported with its line.
func TestEtlTestChecksDeliveries(t *testing.T) {
	code, out, errOut := runCLI(t, "test", "testdata/etltest/hooks.hcl")
	assert.Equal(t, exitFailed, code, errOut)
	want := `FAIL testdata/etltest/hooks.test.hcl:13: wrong status
    delivery: want status 401, got 200
FAIL testdata/etltest/hooks.test.hcl:22: wrong count
    delivery: want 3 records, got 1
FAIL testdata/etltest/hooks.test.hcl:32: refused with its reason
    delivery: want status 200, got 401 (verify refused the delivery (bad signature, stale timestamp or wrong credentials))
2 passed, 3 failed
`
	assert.Equal(t, want, out)
}
