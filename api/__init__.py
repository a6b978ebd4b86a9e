"""HTTP front door: the frontend's session routes and Stripe's webhook."""
