"""Appendix A safety measures on permits (G-02): answers at filing, confirmations before approval, lines to read."""
