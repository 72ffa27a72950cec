"""Looking at what the controller did: the ``status`` table and the journal's timeline report."""
