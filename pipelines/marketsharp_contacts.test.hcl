# Test cases for marketsharp_contacts.hcl: `etl test pipelines/`. Records are
# written as the odata source delivers them from the Atom feed: Edm.Int32 as
# a number, Edm.Boolean as a boolean, m:null as null, an empty element as "".

test "a full contact maps every field" {
  record = {
    id               = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    companyId        = 42
    firstName        = " Ann "
    lastName         = "Lee"
    middleInitial    = null
    title            = ""
    businessName     = "Lee Roofing"
    email1           = " Ann.Lee@Example.com "
    email2           = ""
    email3           = null
    doNotMail        = false
    hasDncPhone      = true
    hasDneEmail      = false
    source           = "Home Show"
    contactPhoneId   = "00000000-0000-4000-8000-000000000009"
    primaryAddressId = null
    isActive         = true
    creationDate     = "2023-11-02T10:15:00"
    createdDate      = "2023-11-02T10:15:00.123"
    lastUpdate       = "2024-04-30T22:01:02.5"
  }
  want = {
    id                 = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    company_id         = 42
    first_name         = "Ann"
    last_name          = "Lee"
    middle_initial     = null
    title              = null
    business_name      = "Lee Roofing"
    email1             = "ann.lee@example.com"
    email2             = null
    email3             = null
    do_not_mail        = false
    has_dnc_phone      = true
    has_dne_email      = false
    source             = "Home Show"
    contact_phone_id   = "00000000-0000-4000-8000-000000000009"
    primary_address_id = null
    is_active          = true
    creation_date      = "2023-11-02T10:15:00Z"
    created_date       = "2023-11-02T10:15:00.123Z"
    last_update        = "2024-04-30T22:01:02.5Z"
  }
}

test "a contact with only an id and lastUpdate lands with nulls" {
  record = {
    id         = "00000000-0000-4000-8000-000000000001"
    lastUpdate = "2024-04-30T22:01:02"
  }
  want = {
    company_id  = null
    first_name  = null
    is_active   = null
    last_update = "2024-04-30T22:01:02Z"
  }
}

test "a contact without an id is rejected" {
  record = {
    id         = ""
    lastUpdate = "2024-04-30T22:01:02"
  }
  reject {
    check = "validate has_id"
  }
}

test "an unreadable date rejects the contact" {
  record = {
    id         = "00000000-0000-4000-8000-000000000001"
    lastUpdate = "yesterday"
  }
  reject {
    check = "map last_update"
  }
}
