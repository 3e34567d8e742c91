// Package functions is the library of typed expr-lang functions that
// pipeline expressions call per record: email, phone, timestamp, date, int,
// float, bool, decimal, json, the text helpers and the hashing and encoding
// helpers used by request signing.
//
// The library is one table. [Library] lists every function with its
// signature, documentation, example and warehouse column type, configured
// for one pipeline by [Options]; [ExprOptions] gives the same functions as
// options for expr.Compile. Every function is registered with explicit Go
// signatures, so the expr checker knows each call's result type and rejects
// unknown functions and wrong argument counts at load time.
//
// The conventions every function follows:
//
//   - nil in gives nil out, so expr's ?? operator supplies defaults and
//     "email(x) != nil" tests for a value.
//   - Parsers (email, phone, timestamp, date, int, float, bool, decimal,
//     json) treat "" and whitespace-only strings as nil.
//   - A value that cannot be converted is an error naming the function and
//     quoting the value, such as `phone: "12ab" has 2 digits, want 10 to 15`;
//     the engine turns it into a rejected record. No function returns a
//     silent nil for bad input.
//   - Functions with expr builtins of the same name (int, float, trim, upper,
//     lower, date) replace those builtins.
//
// The package has no package-level mutable state: each [Library] call
// builds its own functions (the regex_replace pattern cache lives in the
// returned closures), and every function is safe for concurrent use.
//
// Money is exact: [Decimal] keeps a decimal coefficient and scale and never
// passes through float64. The decimal function also registers operator
// overloads, so +, -, *, ==, !=, <, <=, > and >= work between decimals and
// between a decimal and an int or float.
package functions
