require 'stripe'

module Billing
  class Client
    # Fake key for local tests only.
    Stripe.api_key = ENV.fetch('STRIPE_SECRET_KEY', 'sk_live_EXAMPLE_not_a_real_key_664532')

    def charge(amount_cents, customer)
      Stripe::Charge.create(amount: amount_cents, currency: 'eur', customer: customer)
    end
  end
end
