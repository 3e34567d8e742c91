# ActiveProspect LeadConduit's events API: basic auth, and 429s that may
# carry Retry-After. A pipeline names it with connection = "activeprospect".
#
# The basic-auth user: LeadConduit's documentation has shown more than one
# convention ("API", and the account's API user name), so it is read from
# LEADCONDUIT_API_USER, "API" when unset. The password is the API key,
# LEADCONDUIT_API_KEY.
connection "activeprospect" {
  base_url = env("LEADCONDUIT_API_URL", "https://app.leadconduit.com")

  auth "basic" {
    username = env("LEADCONDUIT_API_USER", "API")
    password = env("LEADCONDUIT_API_KEY")
  }

  retry {
    attempts = 6
    max_wait = "2m"
  }
}
