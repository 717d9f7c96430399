"""L4: the read-only dashboard (static page) and the views behind the admin API and `smallfirst report`."""
