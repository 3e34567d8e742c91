# Arrivy's REST API: an auth key and token in headers. A pipeline names it
# with connection = "arrivy" and adds its path (url = "/tasks").
connection "arrivy" {
  base_url = env("ARRIVY_API_URL", "https://app.arrivy.com/api")

  auth "headers" {
    X-Auth-Key   = env("ARRIVY_AUTH_KEY")
    X-Auth-Token = env("ARRIVY_AUTH_TOKEN")
  }

  retry {
    attempts = 6
    max_wait = "2m"
  }
}
