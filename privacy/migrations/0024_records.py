"""Records the law expects (issue 15, "records"): contractors and their supervision checks,
contractor staff accounts, training sessions and access reviews."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("privacy", "0023_terminals"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AccessReview',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reviewed_on', models.DateField(db_index=True, verbose_name='reviewed on')),
                ('changes', models.TextField(verbose_name='what was changed')),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('reviewed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-reviewed_on', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='Contractor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200, verbose_name='company name')),
                ('data_handled', models.TextField(verbose_name='data handled')),
                ('purpose', models.TextField(verbose_name='purpose of the work')),
                ('contract_starts_on', models.DateField(verbose_name='contract starts on')),
                ('contract_ends_on', models.DateField(blank=True, help_text="Its staff's accounts stop working after this day.", null=True, verbose_name='contract ends on')),
                ('confidentiality_agreed_on', models.DateField(blank=True, null=True, verbose_name='confidentiality agreement signed on')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['name', 'pk'],
            },
        ),
        migrations.CreateModel(
            name='ContractorStaff',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('linked_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('contractor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='staff', to='privacy.contractor')),
                ('linked_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='contractor_link', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.CreateModel(
            name='SupervisionCheck',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('checked_on', models.DateField(verbose_name='checked on')),
                ('what_checked', models.TextField(verbose_name='what was checked')),
                ('result', models.CharField(choices=[('satisfactory', 'Satisfactory'), ('needs_action', 'Needs action')], max_length=20, verbose_name='result')),
                ('findings', models.TextField(blank=True, verbose_name='findings and follow-up')),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('checked_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='checked by')),
                ('contractor', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='checks', to='privacy.contractor')),
                ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-checked_on', '-pk'],
            },
        ),
        migrations.CreateModel(
            name='TrainingSession',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('held_on', models.DateField(db_index=True, verbose_name='held on')),
                ('topic', models.CharField(max_length=200, verbose_name='topic')),
                ('recorded_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('attendees', models.ManyToManyField(related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='attendees')),
                ('recorded_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-held_on', '-pk'],
            },
        ),
    ]
