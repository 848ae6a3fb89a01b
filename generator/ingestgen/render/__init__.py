"""Stage 3: render resolved jobs into one Meltano project per tenant, and check for drift."""
