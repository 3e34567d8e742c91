# Genius's MySQL database, read directly. A pipeline names it with
# connection = "genius" and adds its table, columns and key.
connection "genius" {
  dsn = env("GENIUS_MYSQL_DSN")
}
