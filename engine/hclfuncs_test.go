package engine

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedactorFindsPasswordsInsideConnectionStrings(t *testing.T) {
	cases := []struct {
		name   string
		secret string
		text   string
		want   string
	}{
		{"url password", "postgres://etl:pa55word@db:5432/w", "auth failed for pa55word", "auth failed for [redacted]"},
		{"url escaped", "postgres://etl:p%40ss%2Fw@db/w", "password p@ss/w refused", "password [redacted] refused"},
		{"mysql dsn", "genius:s3cr3t!@tcp(10.0.0.1:3306)/genius", "user genius:s3cr3t! denied", "user genius:[redacted] denied"},
		{"key value", "host=db user=etl password='sp ace' dbname=w", "got sp ace", "got [redacted]"},
		{"whole value", "tok_abcdef", "Bearer tok_abcdef", "Bearer [redacted]"},
		{"short values kept", "abc", "abc", "abc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := &configEnv{}
			env.addSecret(c.secret)
			assert.Equal(t, c.want, newRedactor(env.secrets).Redact(c.text))
		})
	}
}
