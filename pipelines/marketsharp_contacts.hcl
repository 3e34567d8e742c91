# MarketSharp contacts (every contact type). Paging, the incremental
# cursor and the secrets: connections/marketsharp.hcl.
pipeline "marketsharp_contacts" {
  system     = "marketsharp"
  entity     = "contacts"
  batch_size = 1000
  # A few malformed records (an unreadable date) are rejected; more than 1% means something else is wrong.
  max_rejects = "1%"
  mask        = ["firstName", "lastName", "middleInitial", "email1", "email2", "email3", "businessName"] # PII stays out of etl_rejects

  source "odata" {
    connection = "marketsharp" # connections/marketsharp.hcl: URL, paging, incremental order, HMAC header, retry
    entity_set = "Contacts"
  }

  incremental { cursor = "last_update" }

  map {
    id                 = "nullif(lower(trim(record.id)), '')"
    company_id         = "int(record.companyId)"
    first_name         = "nullif(trim(record.firstName), '')"
    last_name          = "nullif(trim(record.lastName), '')"
    middle_initial     = "nullif(trim(record.middleInitial), '')"
    title              = "nullif(trim(record.title), '')"
    business_name      = "nullif(trim(record.businessName), '')"
    email1             = "nullif(lower(trim(record.email1)), '')"
    email2             = "nullif(lower(trim(record.email2)), '')"
    email3             = "nullif(lower(trim(record.email3)), '')"
    do_not_mail        = "bool(record.doNotMail)"
    has_dnc_phone      = "bool(record.hasDncPhone)"
    has_dne_email      = "bool(record.hasDneEmail)"
    source             = "nullif(trim(record.source), '')"
    contact_phone_id   = "nullif(lower(trim(record.contactPhoneId)), '')"
    primary_address_id = "nullif(lower(trim(record.primaryAddressId)), '')"
    is_active          = "bool(record.isActive)"
    creation_date      = "timestamp(record.creationDate)"
    created_date       = "timestamp(record.createdDate)"
    last_update        = "timestamp(record.lastUpdate)"
  }

  validate "has_id" {
    check   = "id != nil"
    message = "contacts record has no id"
  }

  sink "warehouse" {
    table = "marketsharp.contacts"
    key   = ["id"]
  }
}
