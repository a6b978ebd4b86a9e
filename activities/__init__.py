"""Activities: every Stripe call and DB write of the workflows, as classes with injected clients."""
