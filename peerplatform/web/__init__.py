"""The platform service's HTTP surface: HTML pages (``pages``) and the JSON API (``api``)."""
