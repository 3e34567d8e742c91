package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/etl-dev/etl/engine"
)

// mapPipeline is a pipeline file whose map has one column x = code (quoted
// as HCL), on line 5.
func mapPipeline(code string) []byte {
	return []byte(fmt.Sprintf(`pipeline "p" {
  system = "s"
  entity = "e"
  source "inline" { records = [{ a = "1" }] }
  map { x = %s }
  sink "warehouse" {
    table = "t"
    mode  = "append"
  }
}
`, quoteHCL(code)))
}

// TestExpressionNestingIsBounded: brackets nested past engine.MaxExprNesting
// are an error at the first one too deep, found before expr's parser runs
// (100,000 parentheses used to take hundreds of MB of stack); brackets in
// string literals do not count, and nesting up to the limit compiles.
func TestExpressionNestingIsBounded(t *testing.T) {
	deep := strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000)
	_, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", mapPipeline(deep))
	require.True(t, diags.HasErrors())
	d := diags[0]
	assert.Equal(t, "Expression nested too deeply", d.Summary)
	assert.Contains(t, d.Detail, "deeper than 200 levels")
	assert.Equal(t, 5, d.Subject.Start.Line)
	// `  map { x = "` is 13 columns; the 201st parenthesis is the one too deep.
	assert.Equal(t, 13+engine.MaxExprNesting+1, d.Subject.Start.Column)

	for name, code := range map[string]string{
		"at the limit":       strings.Repeat("(", engine.MaxExprNesting) + "1" + strings.Repeat(")", engine.MaxExprNesting),
		"brackets in quotes": "'" + strings.Repeat("(", 1000) + "' + \"" + strings.Repeat("[", 1000) + "\" + `" + strings.Repeat("{", 1000) + "`",
		"escaped quote":      `'\'' + '` + strings.Repeat("(", 300) + `'`,
	} {
		t.Run(name, func(t *testing.T) {
			p, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", mapPipeline(code))
			require.False(t, diags.HasErrors(), diags.Error())
			require.NotNil(t, p)
		})
	}
	for name, code := range map[string]string{
		"lists":         strings.Repeat("[", 201) + strings.Repeat("]", 201),
		"maps":          strings.Repeat("{a: ", 201) + "1" + strings.Repeat("}", 201),
		"inside a call": "len(" + strings.Repeat("(", 300) + "'x'" + strings.Repeat(")", 300) + ")",
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := engine.NewLoader(testRegistry()).LoadSource("p.hcl", mapPipeline(code))
			require.True(t, diags.HasErrors())
			assert.Equal(t, "Expression nested too deeply", diags[0].Summary)
		})
	}
}
