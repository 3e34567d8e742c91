# An XML source with every attribute: customers from a nightly export.
pipeline "xml_example" {
  system = "crm"
  entity = "customers"

  source "xml" {
    path    = "testdata/customers.xml" # a file or a glob ("exports/*.xml"), relative to this file
    records = "/export/customers/customer"
    fields = {
      id      = "@id"
      name    = "name"
      email   = "email"
      city    = "address/city"
      tags    = "tags/tag"
      n_tags  = "count(tags/tag)"
      balance = "balance"
      updated = "updated"
    }
    key = "record.id"
  }

  map {
    id         = "record.id"
    name       = "trim(record.name)"
    email      = "email(record.email)"
    city       = "nullif(record.city, '')"
    tag_count  = "int(record.n_tags)"
    balance    = "decimal(record.balance)"
    updated_at = "timestamp(record.updated)"
  }

  sink "warehouse" {
    table = "crm.customers"
    key   = ["id"]
  }
}
