"""Enterprise checklists of Plan 28 (SD-02) and their confirmation on permits."""
