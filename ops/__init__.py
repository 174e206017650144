"""Running an installation: `doctor` (connections checked), `usage` (paid tokens and minutes), the backup library."""
