from django.core.management.base import BaseCommand

from customers import demo
from customers.models import Customer


class Command(BaseCommand):
    help = (
        "Create the demo staff (once; their random passwords are printed once) and N demo "
        "customers with orders."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=30, help="How many customers.")
        parser.add_argument("--seed", type=int, default=None, help="Seed for repeatable data.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Add customers only when there are none."
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Give the demo staff new random passwords and print them.",
        )

    def handle(self, *args, customers, seed, if_empty, reset_passwords, **options):
        from django.contrib.auth.models import User

        from privacy.core import context

        staff = demo.ensure_staff(reset_passwords=reset_passwords)
        self.stdout.write(self.style.MIGRATE_HEADING("Demo staff accounts (user, role, password):"))
        for username, password, role_names in staff:
            shown = password or "(unchanged; --reset-passwords prints new ones)"
            self.stdout.write(f"  {username:12} {','.join(role_names):14} {shown}")
        for username in ("yamada", "sato-admin"):
            secret = demo.ensure_authenticator(User.objects.get(username=username))
            if secret:
                self.stdout.write(
                    f"  {username} logs in with two steps: add the key {secret} to an "
                    f"authenticator app (or run `oathtool --totp -b {secret}`)."
                )
        if if_empty and Customer.objects.exists():
            self.stdout.write("Demo customers already exist; none added.")
        elif customers:
            # The demo's past: clerks took these orders before the current rules were
            # published, so each person acknowledges them at their first look (the gate asks).
            demo.seed_customers(customers, seed=seed)
            self.stdout.write(f"Created {customers} demo customers with orders.")
        with context.scope():
            demo.ensure_rules()
