from django.core.management.base import BaseCommand

from customers import demo


class Command(BaseCommand):
    help = "Create demo staff (once; passwords printed once) and N demo customers with orders."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=30)
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, customers, seed, **options):
        staff = demo.ensure_staff()
        self.stdout.write("Demo staff accounts:")
        for username, password, role_names in staff:
            shown = password if password else "(exists; password unchanged)"
            self.stdout.write(f"  {username:12} {','.join(role_names):14} {shown}")
        if customers:
            demo.seed_customers(customers, seed=seed)
            self.stdout.write(f"Created {customers} demo customers with orders.")
