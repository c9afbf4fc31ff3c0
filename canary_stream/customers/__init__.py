"""The customer registry (customers.md): pure effects, kept by the customers agent."""
