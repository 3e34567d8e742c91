# Test cases for hubspot_deals.hcl: `etl test pipelines/`.
# A record is one element of the list API's "results": id a numeric string,
# every property a string, "" or null, or missing; amounts are strings; deals
# carry hs_lastmodifieddate; associations come inline, an id repeated once per
# association label (crm-apis.md, section 1). The pipeline has no validate
# block: a record without an id is refused by the engine's own key check.

test "a deal maps every field" {
  record = {
    id        = "9876543210"
    archived  = false
    createdAt = "2024-05-20T13:45:10.101Z"
    updatedAt = "2024-07-18T08:22:41.777Z"
    properties = {
      hs_object_id        = "9876543210"
      dealname            = " Whitfield – full tear-off "
      amount              = "18450.00"
      dealstage           = "contractsent"
      pipeline            = "default"
      dealtype            = "newbusiness"
      closedate           = "2024-07-31T17:00:00.000Z"
      hubspot_owner_id    = "83517204"
      createdate          = "2024-05-20T13:45:10.101Z"
      hs_lastmodifieddate = "2024-07-18T08:22:41.777Z"
    }
    associations = {
      companies = {
        results = [
          { id = "18342256901", type = "deal_to_company" },
          { id = "18342256901", type = "deal_to_company_unlabeled" },
        ]
      }
      contacts = {
        results = [
          { id = "512000000017", type = "deal_to_contact" },
          { id = "512000000018", type = "deal_to_contact" },
        ]
      }
    }
  }
  want = {
    id          = 9876543210
    name        = "Whitfield – full tear-off"
    amount      = "18450.00"
    stage       = "contractsent"
    pipeline    = "default"
    deal_type   = "newbusiness"
    close_date  = "2024-07-31T17:00:00Z"
    owner_id    = 83517204
    company_ids = ["18342256901"]
    contact_ids = ["512000000017", "512000000018"]
    archived    = false
    created_at  = "2024-05-20T13:45:10.101Z"
    updated_at  = "2024-07-18T08:22:41.777Z"
  }
  warnings = []
}

test "null properties are null" {
  record = {
    id        = "9876543211"
    archived  = false
    createdAt = "2024-05-21T09:00:00.000Z"
    updatedAt = "2024-07-19T09:00:00.000Z"
    properties = {
      dealname            = null
      amount              = null
      dealstage           = null
      pipeline            = null
      dealtype            = null
      closedate           = null
      hubspot_owner_id    = null
      createdate          = "2024-05-21T09:00:00.000Z"
      hs_lastmodifieddate = "2024-07-19T09:00:00.000Z"
    }
  }
  want = {
    id         = 9876543211
    name       = null
    amount     = null
    stage      = null
    pipeline   = null
    deal_type  = null
    close_date = null
    owner_id   = null
    created_at = "2024-05-21T09:00:00Z"
    updated_at = "2024-07-19T09:00:00Z"
  }
}

test "cleared properties (\"\" and blanks) are null" {
  record = {
    id        = "9876543212"
    archived  = false
    createdAt = "2024-05-22T09:00:00.000Z"
    updatedAt = "2024-07-20T09:00:00.000Z"
    properties = {
      dealname            = "  "
      amount              = ""
      dealstage           = ""
      pipeline            = ""
      dealtype            = ""
      closedate           = ""
      hubspot_owner_id    = ""
      createdate          = "2024-05-22T09:00:00.000Z"
      hs_lastmodifieddate = "2024-07-20T09:00:00.000Z"
    }
  }
  want = {
    id         = 9876543212
    name       = null
    amount     = null
    stage      = null
    pipeline   = null
    deal_type  = null
    close_date = null
    owner_id   = null
    created_at = "2024-05-22T09:00:00Z"
    updated_at = "2024-07-20T09:00:00Z"
  }
}

test "missing properties are null and the dates fall back to createdAt and updatedAt" {
  record = {
    id         = "9876543213"
    archived   = false
    createdAt  = "2024-05-23T09:00:00.000Z"
    updatedAt  = "2024-07-21T09:00:00.000Z"
    properties = { hs_object_id = "9876543213" }
  }
  want = {
    id          = 9876543213
    name        = null
    amount      = null
    stage       = null
    pipeline    = null
    deal_type   = null
    close_date  = null
    owner_id    = null
    company_ids = []
    contact_ids = []
    archived    = false
    created_at  = "2024-05-23T09:00:00Z"
    updated_at  = "2024-07-21T09:00:00Z"
  }
}

test "a deal with no associations has empty id lists" {
  record = {
    id           = "9876543214"
    properties   = { dealname = "Walk-in" }
    associations = {}
  }
  want = { company_ids = [], contact_ids = [] }
}

test "an association type without results has an empty id list" {
  record = {
    id = "9876543215"
    associations = {
      companies = { results = [] }
      contacts  = null
    }
  }
  want = { company_ids = [], contact_ids = [] }
}

test "association ids repeated per label are kept once, in order" {
  record = {
    id = "9876543216"
    associations = {
      contacts = {
        results = [
          { id = "512000000020", type = "deal_to_contact" },
          { id = "512000000019", type = "deal_to_contact" },
          { id = "512000000020", type = "deal_to_contact_unlabeled" },
          { id = "512000000019", type = "deal_to_contact_unlabeled" },
        ]
      }
    }
  }
  want = { contact_ids = ["512000000020", "512000000019"], company_ids = [] }
}

test "numeric association ids are kept as text" {
  record = {
    id = "9876543217"
    associations = {
      companies = { results = [{ id = 18342256901, type = "deal_to_company" }] }
    }
  }
  want = { company_ids = ["18342256901"] }
}

test "a close date as epoch milliseconds is read" {
  record = {
    id         = "9876543218"
    properties = { closedate = "1722445200000", amount = "0" }
  }
  want = { close_date = "2024-07-31T17:00:00Z", amount = "0" }
}

test "an amount keeps its scale" {
  record = {
    id         = "9876543219"
    properties = { amount = "12500.5" }
  }
  want = { amount = "12500.5" }
}

test "an empty id is rejected by the key check" {
  record = {
    id         = ""
    properties = { dealname = "Orphan" }
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "a null id is rejected by the key check" {
  record = {
    id         = null
    properties = { dealname = "Orphan" }
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "a missing id is rejected by the key check" {
  record = {
    properties = { dealname = "Orphan" }
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "an amount with a currency sign is rejected" {
  record = {
    id         = "9876543220"
    properties = { amount = "$18,450" }
  }
  reject {
    check  = "map amount"
    reason = "decimal: \"$18,450\" is not a decimal number"
  }
}

test "a close date that is not a date is rejected" {
  record = {
    id         = "9876543221"
    properties = { closedate = "end of July" }
  }
  reject {
    check = "map close_date"
  }
}

test "an owner id that is not a number is rejected" {
  record = {
    id         = "9876543222"
    properties = { hubspot_owner_id = "83517204.7" }
  }
  reject {
    check  = "map owner_id"
    reason = "int: \"83517204.7\" is not an integer"
  }
}

test "an empty modified date falls back to the record's updatedAt" {
  record = {
    id         = "9"
    createdAt  = "2024-02-05T14:20:31.017Z"
    updatedAt  = "2024-06-01T09:00:00Z"
    properties = { createdate = "", hs_lastmodifieddate = "" }
  }
  want = {
    created_at = "2024-02-05T14:20:31.017Z"
    updated_at = "2024-06-01T09:00:00Z"
  }
}
