"""On-site evidence (G-06, HR-02): what positioning, area boundaries and the regulator's exemptions say about a signer."""
