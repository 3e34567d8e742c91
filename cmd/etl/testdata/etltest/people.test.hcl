test "passes" {
  record = { id = "1", email = "A@B.co", tags = "[\"x\"]" }
  want   = { id = 1, email = "a@b.co", tags = ["x"] }
}

test "wrong value" {
  record = { id = "2", email = "c@d.co" }
  want   = { email = "C@D.CO" }
}

test "wants a reject but maps" {
  record = { id = "3", email = "e@f.co" }
  reject {
    check = "validate has_email"
  }
}

test "wants a row but is rejected" {
  record = { id = "4", email = "" }
  want   = { id = 4 }
}

test "wrong reason" {
  record = { id = "x" }
  reject {
    check  = "map id"
    reason = "nope"
  }
}

test "unknown column" {
  record = { id = "5", email = "g@h.co" }
  want   = { mail = "g@h.co" }
}
