-- A small Genius-like schema for the integration tests. Genius publishes no
-- DDL; the columns follow what its client code selects, the types are ours.
-- The sql_mode allows zero dates, as MariaDB's default does.
SET SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION';

CREATE TABLE third_party_source_type (
  id    INT PRIMARY KEY,
  label VARCHAR(50) NOT NULL
);

CREATE TABLE third_party_source (
  id                         INT PRIMARY KEY,
  third_party_id             VARCHAR(64),
  third_party_source_type_id INT
);

CREATE TABLE prospect (
  id                    INT PRIMARY KEY,
  division_id           INT,
  user_id               INT,
  first_name            VARCHAR(100),
  last_name             VARCHAR(100),
  alt_first_name        VARCHAR(100),
  alt_last_name         VARCHAR(100),
  address1              VARCHAR(200),
  address2              VARCHAR(200),
  city                  VARCHAR(100) CHARACTER SET latin1,
  county                VARCHAR(100),
  state                 CHAR(2),
  zip                   VARCHAR(10),
  year_built            SMALLINT,
  phone1                VARCHAR(30),
  phone2                VARCHAR(30),
  email                 VARCHAR(200),
  notes                 MEDIUMTEXT,
  add_user_id           INT,
  add_date              DATETIME,
  marketsharp_id        VARCHAR(64),
  leap_customer_id      VARCHAR(64),
  third_party_source_id INT,
  updated_at            DATETIME NULL,
  KEY prospect_updated (updated_at)
) CHARACTER SET utf8mb4;

-- `lead` is reserved in MySQL 8.0.2+; mixed-case LeadSource tests quoting.
CREATE TABLE `lead` (
  lead_id      INT PRIMARY KEY,
  first_name   VARCHAR(100),
  last_name    VARCHAR(100),
  email        VARCHAR(200),
  phone1       VARCHAR(30),
  LeadSource   VARCHAR(50),
  is_hot       TINYINT(1),
  budget       DECIMAL(12,2),
  added_on     DATETIME NULL,
  updated_at   DATETIME NULL,
  KEY lead_updated (updated_at)
) CHARACTER SET utf8mb4;

CREATE TABLE quote (
  id          INT PRIMARY KEY,
  prospect_id INT,
  label       VARCHAR(100),
  amount      DECIMAL(14,2),
  expire_date DATE,
  add_date    DATETIME,
  updated_at  TIMESTAMP NULL DEFAULT NULL
);

CREATE TABLE kinds (
  id         BIGINT UNSIGNED PRIMARY KEY,
  flag       TINYINT(1),
  bits       BIT(10),
  ratio      FLOAT,
  score      DOUBLE,
  money      DECIMAL(20,4),
  doc        JSON,
  latin      VARCHAR(50) CHARACTER SET latin1,
  utf        VARCHAR(50) CHARACTER SET utf8mb4,
  raw        BLOB,
  bin        VARBINARY(8),
  day        DATE,
  at_time    TIME,
  local_dt   DATETIME(6),
  instant    TIMESTAMP NULL DEFAULT NULL,
  yr         YEAR,
  mood       ENUM('happy','sad')
);

-- A composite primary key.
CREATE TABLE appointment_to_service (
  appointment_id INT NOT NULL,
  service_id     INT NOT NULL,
  created_at     DATETIME,
  updated_at     DATETIME,
  PRIMARY KEY (appointment_id, service_id)
);

-- Appointments split their start into a DATE and a TIME.
CREATE TABLE appointment (
  id                    INT PRIMARY KEY,
  prospect_id           INT,
  prospect_source_id    INT,
  user_id               INT,
  type_id               INT,
  `date`                DATE,
  `time`                TIME,
  duration              INT,
  address1              VARCHAR(200),
  address2              VARCHAR(200),
  city                  VARCHAR(100),
  state                 CHAR(2),
  zip                   VARCHAR(10),
  email                 VARCHAR(200),
  notes                 TEXT,
  add_user_id           INT,
  add_date              DATETIME,
  assign_date           DATETIME,
  confirm_user_id       INT,
  confirm_date          DATETIME,
  confirm_with          VARCHAR(100),
  spouses_present       TINYINT(1),
  is_complete           TINYINT(1),
  complete_outcome_id   INT,
  complete_user_id      INT,
  complete_date         DATETIME,
  updated_at            DATETIME NULL,
  marketsharp_id        VARCHAR(64),
  marketsharp_appt_type VARCHAR(64),
  leap_estimate_id      VARCHAR(64),
  third_party_source_id INT,
  KEY appointment_updated (updated_at)
);
