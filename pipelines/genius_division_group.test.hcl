# Test cases for genius_division_group.hcl: `etl test pipelines/`.
# The MySQL source delivers DATE and DATETIME as text, INT and TINYINT as
# integers, NULL as null (sources/mysql/README.md, "Values").
# mes_profile_key and paysimple_secret are credentials the source does not read.

test "a division group maps every field" {
  record = {
    id                     = 1
    group_label            = " Buckeye Exteriors "
    region                 = "Midwest"
    default_time_zone_name = "America/New_York"
    intern_payroll_start   = "2024-01-01"
    painter_payroll_start  = "2024-01-08"
    is_active              = 1
    cc_profile_id          = "cc_4821"
    mes_profile_id         = "mes-000912"
    docusign_acct_id       = "a1b2c3d4-0000-4e5f-9a8b-1234567890ab"
    paysimple_username     = "buckeyeext"
    hub_account_id         = "20514377"
    created_at             = "2016-04-11 12:00:00"
    updated_at             = "2024-01-02 10:15:00"
  }
  want = {
    id                     = 1
    group_label            = "Buckeye Exteriors"
    region                 = "Midwest"
    default_time_zone_name = "America/New_York"
    intern_payroll_start   = "2024-01-01T00:00:00Z"
    painter_payroll_start  = "2024-01-08T00:00:00Z"
    is_active              = true
    cc_profile_id          = "cc_4821"
    mes_profile_id         = "mes-000912"
    docusign_acct_id       = "a1b2c3d4-0000-4e5f-9a8b-1234567890ab"
    paysimple_username     = "buckeyeext"
    hub_account_id         = "20514377"
    created_at             = "2016-04-11T12:00:00Z"
    updated_at             = "2024-01-02T10:15:00Z"
  }
}

test "a group without integrations has null ids and dates" {
  record = {
    id                     = 2
    group_label            = "Hoosier Home Pros"
    region                 = ""
    default_time_zone_name = "America/Indiana/Indianapolis"
    intern_payroll_start   = null
    painter_payroll_start  = null
    is_active              = 0
    cc_profile_id          = ""
    mes_profile_id         = null
    docusign_acct_id       = " "
    paysimple_username     = ""
    hub_account_id         = null
    created_at             = "2020-09-01 08:00:00"
    updated_at             = null
  }
  want = {
    region                 = null
    default_time_zone_name = "America/Indiana/Indianapolis"
    intern_payroll_start   = null
    painter_payroll_start  = null
    is_active              = false
    cc_profile_id          = null
    mes_profile_id         = null
    docusign_acct_id       = null
    paysimple_username     = null
    hub_account_id         = null
    updated_at             = null
  }
}

test "a group without an id is rejected" {
  record = {
    id          = null
    group_label = "Ghost Group"
  }
  reject {
    check  = "map id"
    reason = "key column id is null"
  }
}

test "a payroll start that is not a date is rejected" {
  record = {
    id                   = 3
    intern_payroll_start = "Monday"
  }
  reject {
    check = "map intern_payroll_start"
  }
}

test "a created_at that is not a timestamp is rejected" {
  record = {
    id         = 4
    created_at = "2020-09-01 8am"
  }
  reject {
    check = "map created_at"
  }
}
