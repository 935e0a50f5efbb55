"""SQLAlchemy Core and ORM on Tidepool URLs: tidepool:// (sync) and tidepool+aio:// (asyncio),
against the server over HTTP and WebSocket and on a local file."""

from __future__ import annotations

from typing import List, Optional

import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, selectinload

import tidepool
import tidepool.sqlalchemy


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "sa_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    karma: Mapped[float] = mapped_column(default=0.0)
    avatar: Mapped[Optional[bytes]]
    addresses: Mapped[List["Address"]] = relationship(back_populates="user", cascade="all, delete-orphan")


class Address(Base):
    __tablename__ = "sa_addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str]
    user_id: Mapped[int] = mapped_column(ForeignKey("sa_users.id"))
    user: Mapped[User] = relationship(back_populates="addresses")


def sa_url(target: str, driver: str = "tidepool") -> str:
    if target.startswith(("http://", "ws://")):
        scheme, rest = target.split("://", 1)
        return f"{driver}://{rest}?scheme={scheme}"
    return f"{driver}:///{target}"


def test_entry_points_and_register():
    from sqlalchemy.dialects import registry

    tidepool.sqlalchemy.register()
    assert registry.load("tidepool") is tidepool.sqlalchemy.TidepoolDialect
    assert registry.load("tidepool.aio") is tidepool.sqlalchemy.AsyncTidepoolDialect
    url = sa.make_url("tidepool://127.0.0.1:8080?scheme=ws&authToken=abc")
    assert tidepool.sqlalchemy._connect_args(url) == (["ws://127.0.0.1:8080"], {"auth_token": "abc"})
    with pytest.raises(ValueError):
        tidepool.sqlalchemy._connect_args(sa.make_url("tidepool://h?scheme=gopher"))
    with pytest.raises(ValueError):
        tidepool.sqlalchemy._connect_args(sa.make_url("tidepool://h?color=blue"))


def test_orm_models_and_queries(target):
    engine = sa.create_engine(sa_url(target))
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        ada = User(name="ada", karma=1.5, avatar=b"\x00\xff", addresses=[Address(email="ada@example.com")])
        bob = User(name="bob", addresses=[Address(email="bob@a.example"), Address(email="bob@b.example")])
        s.add_all([ada, bob])
        s.commit()
        assert ada.id is not None and bob.id is not None
    with Session(engine) as s:
        users = s.scalars(select(User).options(selectinload(User.addresses)).order_by(User.name)).all()
        assert [(u.name, len(u.addresses)) for u in users] == [("ada", 1), ("bob", 2)]
        assert users[0].avatar == b"\x00\xff" and users[0].karma == 1.5
        joined = s.execute(
            select(User.name, func.count(Address.id)).join(Address).group_by(User.name).order_by(User.name)
        ).all()
        assert joined == [("ada", 1), ("bob", 2)]
        bob = s.scalars(select(User).where(User.name == "bob")).one()
        bob.karma += 2
        s.delete(bob.addresses[0])
        s.commit()
    with Session(engine) as s:
        assert s.scalar(select(User.karma).where(User.name == "bob")) == 2.0
        assert s.scalar(select(func.count()).select_from(Address)) == 2
        # A failed flush rolls the session back; the data is as committed.
        s.add(User(name="ada"))
        with pytest.raises(IntegrityError) as e:
            s.commit()
        assert isinstance(e.value.orig, tidepool.IntegrityError)
        assert e.value.orig.extended_code == "SQLITE_CONSTRAINT_UNIQUE"
        s.rollback()
        assert s.scalar(select(func.count()).select_from(User)) == 2
    with engine.begin() as c:
        c.execute(sa.update(User).where(User.name == "ada").values(karma=User.karma * 10))
        rows = c.execute(
            sa.insert(User).returning(User.id, User.name),
            [{"name": f"user{i}"} for i in range(5)],
        ).all()
        assert [r.name for r in rows] == [f"user{i}" for i in range(5)]
    with engine.connect() as c:
        assert c.scalar(select(User.karma).where(User.name == "ada")) == 15.0
        assert c.scalar(select(func.count()).select_from(User)) == 7
        assert {"sa_addresses", "sa_users"} <= set(sa.inspect(c).get_table_names())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(sa.delete(User).where(User.name.like("user%")))
    with engine.connect() as c:
        assert c.scalar(select(func.count()).select_from(User)) == 2
    Base.metadata.drop_all(engine)
    engine.dispose()


@pytest.mark.asyncio
async def test_async_orm_models_and_queries(target):
    engine = create_async_engine(sa_url(target, "tidepool+aio"))
    async with engine.begin() as c:
        await c.run_sync(Base.metadata.drop_all)
        await c.run_sync(Base.metadata.create_all)
    async with AsyncSession(engine, expire_on_commit=False) as s:
        s.add_all([User(name=f"u{i}", karma=i, addresses=[Address(email=f"u{i}@example.com")]) for i in range(20)])
        await s.commit()
    async with AsyncSession(engine) as s:
        users = (
            await s.scalars(select(User).options(selectinload(User.addresses)).where(User.karma >= 15).order_by(User.id))
        ).all()
        assert [u.name for u in users] == [f"u{i}" for i in range(15, 20)]
        assert all(len(u.addresses) == 1 for u in users)
        users[0].name = "renamed"
        await s.commit()
        assert await s.scalar(select(User.karma).where(User.name == "renamed")) == 15.0
        s.add(User(name="u1"))
        with pytest.raises(IntegrityError) as e:
            await s.commit()
        assert isinstance(e.value.orig, tidepool.IntegrityError)
        await s.rollback()
        assert await s.scalar(select(func.count()).select_from(User)) == 20
    async with engine.connect() as c:
        result = await c.stream(select(User.name).order_by(User.id))
        names = [row.name async for row in result]
        assert len(names) == 20 and names[15] == "renamed"
    async with engine.begin() as c:
        await c.run_sync(Base.metadata.drop_all)
    await engine.dispose()


class Task(Base):
    __tablename__ = "sa_offline_tasks"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    done: Mapped[bool] = mapped_column(default=False)


def test_orm_on_an_offline_database(server, tmp_path):
    """ORM writes on the device commit with no server round trip; sync puts them on the
    server; a server change arrives with the next sync."""
    on_server = sa.create_engine(sa_url(server.url()))
    Task.__table__.drop(on_server, checkfirst=True)
    Task.__table__.create(on_server)
    url = f"tidepool:///{tmp_path / 'device.db'}?sync_url={server.url('ws')}&offline=true&conflict_policy=column_lww"
    device = sa.create_engine(url)
    raw = device.raw_connection()
    assert raw.driver_connection.is_offline
    raw.driver_connection.sync()
    raw.close()

    with Session(device) as session:
        session.add_all([Task(id=1, title="write tests"), Task(id=2, title="ship")])
        session.commit()
        task = session.get(Task, 2)
        task.done = True
        session.commit()
    raw = device.raw_connection()
    assert raw.driver_connection.pending_changes() == 3
    assert raw.driver_connection.sync().changes_pushed == 3
    raw.close()
    with Session(on_server) as session:
        assert [(t.id, t.title, t.done) for t in session.scalars(select(Task).order_by(Task.id))] == [
            (1, "write tests", False),
            (2, "ship", True),
        ]
        session.get(Task, 1).done = True
        session.commit()
    raw = device.raw_connection()
    raw.driver_connection.sync()
    raw.close()
    with Session(device) as session:
        assert session.get(Task, 1).done is True
    device.dispose()
    on_server.dispose()
    with pytest.raises(ValueError):
        tidepool.sqlalchemy._connect_args(sa.make_url("tidepool:///x.db?offline=maybe"))


@pytest.mark.asyncio
async def test_async_orm_on_an_offline_database(server, tmp_path):
    on_server = sa.create_engine(sa_url(server.url()))
    Task.__table__.drop(on_server, checkfirst=True)
    Task.__table__.create(on_server)
    device = create_async_engine(
        f"tidepool+aio:///{tmp_path / 'device.db'}?sync_url={server.url()}&offline=1"
    )
    async with device.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.sync()
    async with AsyncSession(device) as session:
        session.add(Task(id=7, title="async"))
        await session.commit()
    async with device.connect() as conn:
        raw = await conn.get_raw_connection()
        report = await raw.driver_connection.sync()
        assert report.changes_pushed == 1
    with Session(on_server) as session:
        assert session.get(Task, 7).title == "async"
    await device.dispose()
    on_server.dispose()
