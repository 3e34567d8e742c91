# The csv source: SalesPro users from the nightly CSV exports.
#
# SalesPro exports carry a UTF-8 BOM, CRLF line ends, TRUE/FALSE booleans and
# JSON arrays inside quoted cells with doubled quotes. The source hands every
# cell to `map` as a string (an empty cell is ""), named by the header row;
# conversions happen in `map`. A row the source cannot parse (wrong number of
# fields, a stray quote, bytes that are not UTF-8) goes to the rejects table
# with its line number and raw text, and the run goes on.
pipeline "salespro_users" {
  system = "salespro"
  entity = "users"

  source "csv" {
    # A file or a glob, relative to this file. A glob's files are read in
    # sorted order, so date-stamped names load oldest first; a glob that
    # matches nothing fails the run.
    path = "exports/salespro/users-*.csv"

    # One ASCII character; "\t" for TSV. Default ",".
    delimiter = ","

    # The first row names the fields (default true). Set false for files
    # without one, and then list the names in `columns`.
    header = true

    # Optional: names for the fields, in file order. With header = true they
    # replace the header row's names (the row is still skipped) and must be
    # as many as it has; `etl validate` then flags record.<name> typos.
    # columns = ["objectId", "username", "email", "isActive", "allowedOffices", "createdAt"]

    # Lines with nothing on them are skipped (default true).
    skip_empty_lines = true

    # UTF-8 only (the default); convert other encodings before loading.
    encoding = "utf-8"

    # A quoted field may carry a record over at most this many lines before
    # its opening quote is taken as stray: that one line is rejected and
    # reading goes on with the next (default 1000).
    max_record_lines = 1000
  }

  map {
    object_id       = "nullif(trim(record.objectId), '')"
    email           = "email(record.email)"
    is_active       = "bool(record.isActive)"
    allowed_offices = "json(record.allowedOffices)"
    created_at      = "timestamp(record.createdAt)"
  }

  validate "has_object_id" {
    check   = "object_id != nil"
    message = "row has no objectId (SalesPro's key)"
  }

  sink "warehouse" {
    table = "salespro.users"
    key   = ["object_id"]
    mode  = "upsert"
  }
}
