pipeline "hooks" {
  system = "test"
  entity = "hooks"

  source "webhook" {
    path    = "/hooks"
    secrets = { key = env("HOOKS_KEY") }
    verify  = "secure_equal(headers['x-key'], secrets.key)"
  }

  map {
    id = "int(record.id)"
  }

  sink "warehouse" {
    table = "hooks"
    key   = ["id"]
  }
}
